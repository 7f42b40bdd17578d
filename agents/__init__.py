"""The agents that ship. Each is a package exposing `agent`, declared as a `switchboard.agents` entry point."""

"""The channel contract: the rules every channel keeps (contract.py), run on each channel's kit."""

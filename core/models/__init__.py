"""Models: the protocol the loop calls, and the three implementations that ship."""

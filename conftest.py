# The fixtures in tests/conftest.py serve the agents' own tests under agents/ too.
pytest_plugins = ["tests.fixtures"]

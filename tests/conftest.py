pytest_plugins = ["tests.fixtures.database", "tests.fixtures.stack", "tests.fixtures.ports"]

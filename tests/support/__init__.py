"""What the tests share: builders, sessions, helpers that drive the real command, the HTTP app, the
FIX and ccxt payload builders, the PostgreSQL test server. A test module imports from here and from
nowhere else in ``tests`` (``tests/unit/test_tests_stand_alone.py`` checks it)."""

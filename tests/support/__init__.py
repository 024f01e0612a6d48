"""Helpers the tests share: the test database, live servers, a PostgreSQL of a test's own."""

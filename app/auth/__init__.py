"""Accounts, login sessions and tokens: /api/auth."""

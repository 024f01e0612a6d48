"""A user's tags: /api/{user_id}/tags."""

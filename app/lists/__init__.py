"""A user's lists of tasks: /api/{user_id}/lists."""

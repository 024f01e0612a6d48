"""A user's tasks: /api/{user_id}/tasks."""

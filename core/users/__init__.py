"""Application users (for login) and sales reps with their reporting line."""

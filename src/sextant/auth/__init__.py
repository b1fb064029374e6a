"""Authentication: keys now; users, sessions and roles as the web app grows."""

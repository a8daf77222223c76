"""APScheduler 3.x setup and the app's background jobs."""

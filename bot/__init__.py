"""The app process: Telegram and web chat channels, the conversation pipeline, NLG endpoint, console."""

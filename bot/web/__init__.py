"""The app's HTTP side: web chat, chat API, NLG endpoint for Rasa, health and readiness."""

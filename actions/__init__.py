"""Custom actions for the Rasa server (run by rasa_sdk: ``python -m rasa_sdk --actions actions``).

One module per feature. Actions call repositories and services, never SQL, and never write user-facing
text: they name a response (``utter_*``) that the app's NLG endpoint renders in the person's language.
"""

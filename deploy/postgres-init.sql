-- Rasa's tracker store lives in its own database next to the app's.
CREATE DATABASE rasa OWNER lotse;

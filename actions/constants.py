"""Names shared by the actions and the Rasa domain (nlu/domain)."""

from storage.vocabulary import TOPICS

SLOT_TOPIC = "topic"
SLOT_MUNICIPALITY = "municipality"
SLOT_FALLBACK_COUNT = "fallback_count"
ENTITY_FAQ_ID = "faq_id"
ENTITY_MUNICIPALITY = "municipality"
ENTITY_CHILD_AGE = "child_age"

TOPIC_INTENTS = {f"ask_{t}": t for t in TOPICS}

# After this many misunderstandings in a row the bot offers a person.
FALLBACKS_BEFORE_HUMAN = 2

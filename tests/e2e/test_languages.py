"""Conversations in all eight languages through /api/chat: the topic is understood and the answer
comes in the person's language (French from its drafts of the most-asked entries, said in meta)."""

from __future__ import annotations

import uuid

import pytest

from tests.support.stack import Stack

pytestmark = pytest.mark.e2e

# Written for this test, not copied from the training or held-out data.
CONVERSATIONS = {
    "de": [
        ("Mein Sohn ist 2, wie bekommt er einen Kitaplatz?", "kita"),
        ("Wie lange muss ich in Deutschland leben für den deutschen Pass?", "naturalisation"),
        ("Muss ich den Integrationskurs selbst bezahlen?", "integration_course"),
    ],
    "en": [
        ("my daughter is 3, how do i find a kita place", "kita"),
        ("what do I need to become a German citizen", "naturalisation"),
        ("I got a Berechtigungsschein, what now?", "integration_course"),
    ],
    "ar": [
        ("كيف أسجل طفلي في الروضة؟", "kita"),
        ("ما هي شروط الحصول على الجنسية الألمانية", "naturalisation"),
        ("كم يكلف كورس الاندماج", "integration_course"),
    ],
    "uk": [
        ("Як записати дитину в дитячий садок?", "kita"),
        ("Які умови для отримання німецького громадянства?", "naturalisation"),
        ("скільки коштує інтеграційний курс", "integration_course"),
    ],
    "ru": [
        ("Как записать ребенка в детский сад?", "kita"),
        ("Что нужно для получения немецкого гражданства?", "naturalisation"),
        ("интеграционный курс сколько стоит", "integration_course"),
    ],
    "tr": [
        ("Çocuğumu kreşe nasıl kaydettirebilirim?", "kita"),
        ("Alman vatandaşlığı için ne gerekiyor?", "naturalisation"),
        ("Uyum kursu ücretli mi?", "integration_course"),
    ],
    "fa": [
        ("چطور بچه ام را در مهدکودک ثبت نام کنم؟", "kita"),
        ("برای گرفتن تابعیت آلمان چه شرایطی لازم است؟", "naturalisation"),
        ("کلاس ادغام چقدر هزینه دارد", "integration_course"),
    ],
    "fr": [
        ("comment inscrire mon enfant à la crèche", "kita"),
        ("quelles sont les conditions pour la naturalisation allemande", "naturalisation"),
        ("combien coûte le cours d'intégration", "integration_course"),
    ],
}


@pytest.mark.parametrize("lang", sorted(CONVERSATIONS))
def test_answers_in_every_language(stack: Stack, lang: str):
    sender = f"web-{lang}-{uuid.uuid4()}"
    for i, (question, topic) in enumerate(CONVERSATIONS[lang]):
        extra = {"consent": True, "language": lang} if i == 0 else {}
        [answer] = stack.chat(sender, text=question, **extra)
        assert answer["meta"].get("topic") == topic, (question, answer["meta"])
        assert answer["meta"]["language"] == lang
        assert answer["meta"]["translation"] in ({"source"} if lang == "de" else {"reviewed", "draft"})


def test_a_childs_age_decides_between_kita_and_school(stack: Stack):
    sender = f"web-age-{uuid.uuid4()}"
    [answer] = stack.chat(
        sender,
        text="meine tochter ist 3 jahre alt, muss sie in die schule?",
        consent=True,
        language="de",
    )
    assert answer["meta"].get("topic") == "kita"
    [answer] = stack.chat(sender, text="my son is 9 years old, how do we get a place?")
    assert answer["meta"].get("topic") == "school"
    # A duration is not an age: "seit 3 Jahren" must not turn a school question into a Kita answer.
    [answer] = stack.chat(sender, text="Wir wohnen seit 3 Jahren hier, welche Schule für meinen Sohn?")
    assert answer["meta"].get("topic") == "school"

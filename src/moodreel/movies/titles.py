"""Title conventions: MovieLens' ``"Matrix, The (1999)"`` and a key that matches one film
spelled differently by two sources ("The Matrix" and "Matrix, The")."""

from __future__ import annotations

import re
import unicodedata

#: Articles that MovieLens moves to the end ("Matrix, The", "Avventura, L'").
ARTICLES = ("The", "A", "An", "Les", "Le", "La", "L'", "Il", "El", "Los", "Las", "Lo", "Der",
            "Die", "Das", "Den", "Det", "Un", "Une", "Una", "Gli", "I")
TITLE_KEY_LENGTH = 200

_YEAR = re.compile(r"^(?P<title>.*?)\s*\((?P<year>\d{4})(?:\s*[-\u2013]\s*\d{0,4})?\)\s*$")
_TRAILING_ARTICLE = re.compile(
    r"^(?P<main>.+?), (?P<article>" + "|".join(re.escape(a) for a in ARTICLES) + r")"
    r"(?P<rest>\s*\(.*\))?$")
_NON_WORD = re.compile(r"[\W_]+")
_LEADING_ARTICLE = re.compile(r"^(the|a|an) ")


def split_title_year(text: str) -> tuple[str, int | None]:
    """``"Matrix, The (1999)"`` -> ``("The Matrix", 1999)``; no year -> ``(title, None)``."""
    text = text.strip()
    match = _YEAR.match(text)
    title, year = (match["title"], int(match["year"])) if match else (text, None)
    return restore_article(title), year


def restore_article(title: str) -> str:
    """Move a trailing article back to the front: ``"Avventura, L'"`` -> ``"L'Avventura"``,
    ``"City of Lost Children, The (Cité des enfants perdus, La)"`` -> ``"The City of Lost
    Children (Cité des enfants perdus, La)"``."""
    match = _TRAILING_ARTICLE.match(title.strip())
    if not match:
        return title.strip()
    article = match["article"]
    glue = "" if article.endswith("'") else " "
    return f"{article}{glue}{match['main']}{match['rest'] or ''}"


def title_key(title: str) -> str:
    """Lower case, no accents, no punctuation, no leading English article: the key on which
    rows without a shared external id are matched (together with the year)."""
    text = unicodedata.normalize("NFKD", restore_article(title))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = _NON_WORD.sub(" ", text).strip()
    return _LEADING_ARTICLE.sub("", text)[:TITLE_KEY_LENGTH]

"""Normalisation shared by the stored search key and the query, so that both match."""

from __future__ import annotations

import re
import unicodedata

_NON_WORD = re.compile(r"[^0-9a-zа-я]+")


def search_key(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower().replace("ё", "е")
    return " ".join(_NON_WORD.sub(" ", text).split())


def query_words(query: str) -> list[str]:
    return [w for w in search_key(query).split() if w][:6]

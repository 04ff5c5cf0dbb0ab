"""The two languages of the pages and the API's messages (Flask-Babel): Simplified Chinese and
English, gettext catalogues in connector/translations (compiled to .mo at install or build by
setup.py; `pybabel extract/update/compile` in README's development notes).

A page's language: the logged-in user's setting (users.language, set on /profile), else the
browser's Accept-Language (best match), else English. An API answer's: the request's
Accept-Language when sent, else the key's setting (`apikey create --language`), else English.

A language is stored and shown as a tag (`zh-CN`, `en`); Babel's locale names it `zh_CN`."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import flask_babel
from babel import Locale, support
from babel.numbers import format_decimal
from flask import Flask, g, request
from flask_babel import Babel, get_locale
from werkzeug.datastructures import LanguageAccept

from gating.languages import DEFAULT_LANGUAGE, LANGUAGES
from gating.money import is_currency, minor_units, quantize

TAGS = LANGUAGES
DEFAULT = DEFAULT_LANGUAGE

_LOCALE_OF = {"zh-CN": "zh_CN", "en": "en"}


def _(text: str, **variables: Any) -> str:
    """gettext: `text` in the reader's language, `%(name)s` filled from `variables`."""
    return str(flask_babel.gettext(text, **variables))


def ngettext(singular: str, plural: str, num: int, **variables: Any) -> str:
    """gettext for a count: `%(num)s` is `num`."""
    return str(flask_babel.ngettext(singular, plural, num, **variables))


def _l(text: str, **variables: Any) -> Any:
    """A text translated when it is shown (module-level tables, read in a request); str() it
    before it goes into the session (a flash)."""
    return flask_babel.lazy_gettext(text, **variables)


def best_tag(accept: LanguageAccept) -> str | None:
    """The browser's (or API client's) best language among ours; any Chinese reads Simplified
    Chinese here rather than English. None when it asks for neither."""
    found = accept.best_match(sorted(TAGS, key=lambda tag: tag != DEFAULT))  # "*": English
    wanted = (value for value, quality in accept if quality > 0)  # q=0: "not this one"
    if found is None and any(value.lower().startswith("zh") for value in wanted):
        found = "zh-CN"
    return found


def request_tag() -> str:
    """The language of this request's answer, as a tag (see the module's docstring)."""
    if "language" in g:
        return str(g.language)
    tag = None
    if "web" in request.blueprints:
        from connector.web.session import current_user  # pages only: one read, cached

        user = current_user()
        tag = getattr(user, "language", None) if user is not None else None
        if tag not in TAGS:
            tag = best_tag(request.accept_languages) if request.accept_languages else None
    else:
        # The API: Accept-Language wins when the request sends it; else the key's setting, which
        # connector/auth.py puts on g.client_language with the key check (no extra read).
        if request.accept_languages:
            tag = best_tag(request.accept_languages)
        if tag is None:
            tag = g.get("client_language")
    g.language = tag if tag in TAGS else DEFAULT
    return str(g.language)


def _select_locale() -> str:
    try:
        return _LOCALE_OF[request_tag()]
    except RuntimeError:  # outside a request (the CLI, a job): English
        return _LOCALE_OF[DEFAULT]


class _Catalogues(flask_babel.Domain):  # type: ignore[misc]
    """Flask-Babel's domain, finding the catalogue of translations/zh_CN: Babel parses "zh_CN"
    as zh_Hans_CN, for which gettext looks in zh_Hans_CN/ and zh/ only."""

    def get_translations(self) -> Any:
        found = get_locale()
        if found is None:  # outside a request
            return support.NullTranslations()
        name = _LOCALE_OF["zh-CN"] if found.language == "zh" else str(found)
        cache = self.get_translations_cache(None)
        key = (name, self.domain[0])
        if key not in cache:
            translations = support.Translations()
            for directory in self.translation_directories:
                catalogue = support.Translations.load(directory, [name], self.domain[0])
                translations.merge(catalogue)  # type: ignore[arg-type]  # Null: a no-op
                if hasattr(catalogue, "plural"):  # merge() does not copy it
                    translations.plural = catalogue.plural
            cache[key] = translations
        return cache[key]


def html_lang() -> str:
    """What `<html lang>` says: the page's language tag."""
    return request_tag()


def number(value: Any, places: int = 2) -> str:
    """An amount with the reader's grouping and decimal signs, `places` decimals."""
    pattern = "#,##0" + ("." + "0" * places if places else "")
    return format_decimal(Decimal(value), format=pattern, locale=_current_locale())


def money(value: Any, currency: str = "") -> str:
    """An amount and its currency code, in the reader's conventions and with the currency's own
    decimals (JPY none, KWD three); "—" for none."""
    if value is None:
        return "—"
    if not is_currency(currency):
        return number(value) + (f" {currency}" if currency else "")
    # Rounded as the rules round (half up), then written in the reader's conventions.
    exact = quantize(Decimal(value), currency)
    return number(exact, minor_units(currency)) + f" {currency}"


def reads_chinese() -> bool:
    return _current_locale().language == "zh"


def _current_locale() -> Locale:
    try:
        found = get_locale()
    except RuntimeError:
        found = None
    return found or Locale.parse(DEFAULT)


def when(value: datetime | None, zone: Any) -> str:
    """A time in the business zone (`zone`), to the minute; the zone is named on every page."""
    if value is None:
        return "—"
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", _LOCALE_OF[DEFAULT])
    babel = Babel(app, locale_selector=_select_locale)
    babel.domain_instance = _Catalogues()
    from connector import words

    words.init_app(app)
    app.jinja_env.globals["html_lang"] = html_lang

"""The one build step besides setuptools' own: the gettext catalogues (connector/translations/
*/LC_MESSAGES/messages.po) compiled to .mo, for a wheel, an sdist's install and `pip install -e .`
alike. The .mo files are build products (git-ignored); the .po files are the source.

Every other setting is pyproject.toml's."""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

CATALOGUES = Path(__file__).parent / "connector" / "translations"


def compile_catalogues() -> list[Path]:
    """Each messages.po compiled to the messages.mo beside it; the .mo files written."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    written = []
    for po in sorted(CATALOGUES.glob("*/LC_MESSAGES/messages.po")):
        with po.open("rb") as source:
            catalog = read_po(source, locale=po.parent.parent.name)
        mo = po.with_suffix(".mo")
        with mo.open("wb") as target:
            write_mo(target, catalog, use_fuzzy=False)
        written.append(mo)
    return written


class BuildPy(build_py):
    """Compiles the catalogues before the package data is copied, so a wheel carries the .mo;
    an editable install runs build_py too, and reads them where they are compiled."""

    def run(self) -> None:
        compile_catalogues()
        super().run()


setup(cmdclass={"build_py": BuildPy})

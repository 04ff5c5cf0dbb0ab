"""A folder of CSV exports: read for `creditgate import` (`read_folder`) or synced as a source
(`CsvFolderSource`)."""

from adapters.csv_folder.reader import read_folder
from adapters.csv_folder.source import CsvFolderSource

__all__ = ["CsvFolderSource", "read_folder"]

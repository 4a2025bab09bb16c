"""Readers of the upload formats of POST /ecgs/uploads: each checks a file's header at once and
streams its samples in bounded chunks, so a processing Lambda's memory stays flat."""

from chalicelib.ecg.formats.edf import read_edf
from chalicelib.ecg.formats.json_file import read_json_file
from chalicelib.ecg.formats.recording import Recording, RecordingHeader, UnreadableFile

__all__ = ["Recording", "RecordingHeader", "UnreadableFile", "read_edf", "read_json_file"]

"""Media front end: PyAV decoding, faces, subtitles and offline speech recognition."""

from affectgpt.media.audio import SAMPLE_RATE, iter_audio, load_audio
from affectgpt.media.probe import MediaInfo, probe
from affectgpt.media.subtitles import Segment, Transcript, read_subtitles
from affectgpt.media.video import FrameSample, sample_frames

__all__ = ["SAMPLE_RATE", "iter_audio", "load_audio", "MediaInfo", "probe", "Segment", "Transcript",
           "read_subtitles", "FrameSample", "sample_frames"]

"""probe / check_media on real files: good ones described, bad ones refused by name."""

from __future__ import annotations

import pytest

from videofactory.assembly.probe import check_media, probe
from videofactory.errors import MediaError


def test_probe_describes_a_video(media) -> None:
    info = probe(media.clip_b)
    assert (info.width, info.height, info.fps) == (200, 200, 12.0)
    assert info.duration_s == pytest.approx(2.0, abs=0.01)
    assert info.frames == 24
    assert (info.video_codec, info.pix_fmt) == ("h264", "yuv420p")
    assert info.has_video and not info.has_audio
    assert info.size_bytes == media.clip_b.stat().st_size
    assert "mp4" in info.format_name


def test_probe_describes_audio(media) -> None:
    info = probe(media.tone_short)
    assert info.has_audio and not info.has_video
    assert (info.sample_rate, info.channels) == (22050, 1)
    assert info.duration_s == pytest.approx(0.5, abs=0.01)


def test_a_still_image_is_a_valid_one_frame_clip(media) -> None:
    info = check_media(media.still, kind="video")
    assert (info.width, info.height) == (240, 320)


@pytest.mark.parametrize(
    "name, words",
    [
        ("empty", "empty (0 bytes)"),
        ("corrupt", "cannot read"),
        ("truncated", "cannot read"),
        ("no_streams", "no audio or video stream"),
    ],
)
def test_bad_files_raise_media_error_naming_file_and_task(media, name, words) -> None:
    path = getattr(media, name)
    with pytest.raises(MediaError) as err:
        probe(path, task="shot-3/clip")
    assert str(path) in str(err.value) and words in str(err.value)
    assert "shot-3/clip" in str(err.value)
    assert (err.value.path, err.value.task) == (str(path), "shot-3/clip")


def test_missing_file(tmp_path) -> None:
    with pytest.raises(MediaError, match="missing") as err:
        check_media(tmp_path / "nope.mp4", kind="video")
    assert err.value.path == str(tmp_path / "nope.mp4")


def test_audio_only_file_is_not_a_clip(media) -> None:
    with pytest.raises(MediaError, match="no video stream"):
        check_media(media.audio_only, kind="video")
    check_media(media.audio_only, kind="audio")


def test_video_without_audio_is_not_narration(media) -> None:
    with pytest.raises(MediaError, match="no audio stream"):
        check_media(media.clip_a, kind="audio")


def test_wrong_length_is_refused(media) -> None:
    check_media(media.clip_a, kind="video", expected_duration_s=1.05)
    with pytest.raises(MediaError, match=r"lasts 1\.000 s, expected 3\.000 s"):
        check_media(media.clip_a, kind="video", expected_duration_s=3.0)

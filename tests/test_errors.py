"""hdr-mcp's errors cross process boundaries whole (multiprocessing, Ray actors)."""

from __future__ import annotations

import multiprocessing
import pickle

import pytest

from hdr_mcp.errors import HdrMcpError, InvalidArgument, UnsupportedFile
from hdr_mcp.jobs.store import JobFinished, JobStatus, LeaseLost, UnknownJob


@pytest.mark.parametrize("error", [
    InvalidArgument("width", 7, "must be a multiple of 16"),
    UnsupportedFile("path", "/x/a.exr", "not an OpenEXR file"),
    UnknownJob("j_123"),
    JobFinished("j_123", JobStatus.succeeded),
    LeaseLost("j_123"),
    HdrMcpError("plain"),
])
def test_errors_pickle_with_their_message_and_fields(error):
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is type(error)
    assert str(again) == str(error)
    assert vars(again) == vars(error)


def _raise(_: int) -> None:
    raise InvalidArgument("output_dir", "/nowhere", "outside the allowed roots")


def test_an_error_raised_in_a_pool_process_reaches_the_parent():
    with multiprocessing.get_context("spawn").Pool(1) as pool, \
            pytest.raises(InvalidArgument, match="output_dir='/nowhere'") as caught:
        pool.map(_raise, [0])
    assert caught.value.argument == "output_dir"

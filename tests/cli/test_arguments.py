"""The types of the commands' options, and the usage errors they give."""

import argparse

import pytest

from pushcollector._impl.cli.arguments import (
    port_number,
    positive_int,
    positive_seconds,
)


@pytest.mark.parametrize("text, seconds", [("30", 30.0), ("0.5", 0.5), ("1e3", 1000.0)])
def test_a_time_is_a_positive_number_of_seconds(text, seconds):
    assert positive_seconds(text) == seconds


@pytest.mark.parametrize("text", ["0", "-1", "inf", "nan", "soon", ""])
def test_a_time_that_is_not_is_a_usage_error(text):
    with pytest.raises(
        argparse.ArgumentTypeError, match="a positive number of seconds"
    ):
        positive_seconds(text)


@pytest.mark.parametrize("text, number", [("1", 1), ("500", 500), ("007", 7)])
def test_a_number_is_1_or_more_in_digits(text, number):
    assert positive_int(text) == number


@pytest.mark.parametrize(
    "text", ["0", "-1", "1.5", "+2", "many", "", "\u00b2", "1" * 5000]
)
def test_a_number_that_is_not_is_a_usage_error(text):
    with pytest.raises(argparse.ArgumentTypeError, match="1 or more"):
        positive_int(text)


@pytest.mark.parametrize("text, port", [("0", 0), ("8080", 8080), ("65535", 65535)])
def test_a_port_is_0_to_65535(text, port):
    assert port_number(text) == port


@pytest.mark.parametrize("text", ["65536", "70000", "-1", "http", "", "9" * 5000])
def test_a_port_that_is_not_is_a_usage_error(text):
    # 70000 was served on 4464 (70000 - 65536), 65536 on a random port.
    with pytest.raises(
        argparse.ArgumentTypeError, match="0 \\(any free one\\) to 65535"
    ):
        port_number(text)

"""The types of the commands' options, and the usage errors they give."""

import argparse

import pytest

from pushcollector._impl.cli.arguments import positive_int, positive_seconds


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


@pytest.mark.parametrize("text", ["0", "-1", "1.5", "+2", "many", ""])
def test_a_number_that_is_not_is_a_usage_error(text):
    with pytest.raises(argparse.ArgumentTypeError, match="1 or more"):
        positive_int(text)

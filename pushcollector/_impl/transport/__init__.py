"""The one transport of every HTTP client of the collection service.

The ``http`` backend, ``pushcollector upload`` and reading runs from a
service compose these parts rather than each having its own:

* :mod:`.auth`: the base URL, and the credentials sent with every request;
* :mod:`.redaction`: no piece of a credential in any error or log line;
* :mod:`.retry`: which failures are retried, and after how long;
* :mod:`.attempt`: one request, bounded in time and in what is read, then
  retried by the policy;
* :mod:`.sender`: requests sent in order from a background thread, each
  call's future resolved when its requests are done.

requests is imported when first needed, never at package import.
"""

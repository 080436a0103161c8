"""gunicorn settings for the test lab's acme2certifier (Sources/TestLab/ACME2Certifier.swift).

gunicorn reads this file in its master process as it starts. A child inherits the signals its
parent's thread blocks, and the lab's Swift process starts its servers with most of them
blocked, SIGTERM among them (/proc/PID/status SigBlk); Python does not unblock them, so the
master would never see the SIGTERM that stops it and would only end by SIGKILL, leaving its
worker behind for a moment. Unblocking every signal here makes SIGTERM a graceful stop again.
"""

import signal

signal.pthread_sigmask(signal.SIG_SETMASK, set())

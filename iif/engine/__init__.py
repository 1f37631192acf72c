"""Run logic shared by tools/train.py, tools/test.py, the container entrypoint and the
reproduce queue: device and process-group set-up, input checks, training, sharded
inference and evaluation, and the records every run writes."""

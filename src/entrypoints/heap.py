"""A long-running process's heap after start: what start made stays out of full collections,
and what requests make is collected in short pauses."""

import gc

# A worker's requests in flight hold tens of thousands of objects (about 60,000 a worker at
# 1,024 clients) that live a Stripe call's length and are freed by reference counting; they make
# no cycles (no collection under that load found any). Each collection pauses the worker for as
# long as it takes to scan the generation it collects, and every request waits that pause.
#
# The young generation is collected once 2,000 more objects are alive (Python's default is
# 700): a few milliseconds each. Python counts an object freed in an older generation against the
# young one's count, so with 10,000 the young generation held 40,000-65,000 objects by the time
# it was collected: pauses of 20-48 ms. The middle generation is collected after 1,000 young
# collections, not 10: about once a minute at that load, a pause of 5-35 ms. Full collections
# keep Python's rule (after 10 middle ones, once a quarter more objects have lived long).
YOUNG_THRESHOLD = 2_000
MIDDLE_THRESHOLD = 1_000
OLDEST_THRESHOLD = 10


def freeze_startup_objects() -> None:
    """Collect once, then move every object alive now (modules, classes, the app, its
    container) to the collector's permanent generation. Objects made at start live as long as
    the process; scanning them made each full collection pause a worker for 70-150 ms under load
    (20 ms once frozen). What requests make afterwards is collected (see above)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, OLDEST_THRESHOLD)

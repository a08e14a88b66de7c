// Refreshing while the page is open, without overlapping requests: one
// run at a time; the next is scheduled `interval` ms after a run ends,
// only while started and visible; asking for a run while one is under way
// queues exactly one more, started as soon as it ends (so what it fetches
// reflects the latest filters). Asked for while stopped (automatic refresh
// off), a run happens once, with the same rule, and schedules nothing.
// Pure: the timers are passed in for tests.

/**
 * `run()` returns a promise (its failures are the caller's to show: a
 * failed run is rescheduled as a successful one is).
 */
export function createPoller(run, { interval = 10_000, visible = () => true, setTimer = setTimeout, clearTimer = clearTimeout } = {}) {
  let on = false;
  let timer = null;
  let inFlight = null;
  let queued = false;

  const cancel = () => {
    if (timer !== null) clearTimer(timer);
    timer = null;
  };

  const schedule = () => {
    cancel();
    if (on && visible() && !inFlight) timer = setTimer(() => { timer = null; now(); }, interval);
  };

  /** Runs at once, or once more right after the run under way. */
  function now() {
    if (inFlight) {
      queued = true;
      return inFlight;
    }
    cancel();
    inFlight = (async () => {
      try {
        await run();
      } catch {
        // The caller's run shows its own errors.
      }
    })().finally(() => {
      inFlight = null;
      if (queued) {
        queued = false;
        now();
      } else {
        queued = false;
        schedule();
      }
    });
    return inFlight;
  }

  return {
    /** Starts: a run at once, then one every `interval` while visible. */
    start() {
      on = true;
      return now();
    },
    /** Stops: no timer left; a run under way ends but schedules nothing (nor a queued one). */
    stop() {
      on = false;
      queued = false;
      cancel();
    },
    now,
    /** The page became visible (a run at once) or hidden (no timer). */
    visibilityChanged() {
      if (!on) return;
      if (visible()) now();
      else cancel();
    },
    get running() {
      return on;
    },
    get busy() {
      return inFlight !== null;
    },
    get scheduled() {
      return timer !== null;
    },
  };
}

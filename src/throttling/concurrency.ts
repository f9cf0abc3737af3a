// A per-process bound on work that must not run many at once (password hashing): a few slots, a
// short first-come queue, then a refusal instead of an ever-growing wait.

export interface ConcurrencyLimit {
  /** Resolves with a release function, or undefined when no slot freed within the queue time. */
  acquire(): Promise<(() => void) | undefined>;
  readonly running: number;
  readonly waiting: number;
}

export function createConcurrencyLimit(slots: number, queueMs: number): ConcurrencyLimit {
  let running = 0;
  const queue: Array<{ grant: () => void }> = [];

  const release = () => {
    const next = queue.shift();
    if (next) next.grant();
    else running--;
  };
  const once = () => {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      release();
    };
  };

  return {
    get running() {
      return running;
    },
    get waiting() {
      return queue.length;
    },
    acquire() {
      if (running < slots) {
        running++;
        return Promise.resolve(once());
      }
      if (queueMs === 0) return Promise.resolve(undefined);
      return new Promise((resolve) => {
        const entry = {
          // A slot handed over: `running` stays the same (the releaser's slot becomes ours).
          grant: () => {
            clearTimeout(timer);
            resolve(once());
          },
        };
        const timer = setTimeout(() => {
          const index = queue.indexOf(entry);
          if (index >= 0) queue.splice(index, 1);
          resolve(undefined);
        }, queueMs);
        queue.push(entry);
      });
    },
  };
}

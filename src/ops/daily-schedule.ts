// A once-a-day timer for the backup service: no cron in the container, just the next UTC
// occurrence of a time of day, a run, and a clean stop when asked (after a running job ends).

export interface TimeOfDay {
  hours: number;
  minutes: number;
}

export function parseTimeOfDay(text: string): TimeOfDay | undefined {
  const match = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(text.trim());
  return match ? { hours: Number(match[1]), minutes: Number(match[2]) } : undefined;
}

/** The first instant strictly after `after` whose UTC time of day is `time`. */
export function nextOccurrence(after: Date, time: TimeOfDay): Date {
  const next = new Date(
    Date.UTC(after.getUTCFullYear(), after.getUTCMonth(), after.getUTCDate(), time.hours, time.minutes),
  );
  if (next.getTime() <= after.getTime()) next.setUTCDate(next.getUTCDate() + 1);
  return next;
}

export interface DailyJob {
  run: () => Promise<void>;
  onError: (error: unknown) => void;
  onNext: (at: Date) => void;
}

/** Runs `job` every day at `time` (UTC) until `stop` is aborted; a running job is let finish. */
export async function runDaily(time: TimeOfDay, job: DailyJob, stop: AbortSignal): Promise<void> {
  const stopped = new Promise<void>((resolve) => {
    if (stop.aborted) resolve();
    stop.addEventListener("abort", () => resolve(), { once: true });
  });
  while (!stop.aborted) {
    const at = nextOccurrence(new Date(), time);
    job.onNext(at);
    let timer: NodeJS.Timeout | undefined;
    const due = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, at.getTime() - Date.now());
    });
    await Promise.race([due, stopped]);
    clearTimeout(timer);
    // The signal may have fired while we awaited; the loop condition's narrowing does not know that.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
    if (stop.aborted) break;
    await job.run().catch(job.onError);
  }
}

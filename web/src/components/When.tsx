import { fullTime, relativeTime } from "../time";

/** A time as a person says it ("5 minutes ago"), the full date and time on hover, and the
 * machine-readable one for assistive technology. */
export function When({ iso, now }: { iso: string | null | undefined; now: number }) {
  return (
    <time dateTime={iso ?? undefined} title={fullTime(iso)}>
      {relativeTime(iso, now)}
    </time>
  );
}

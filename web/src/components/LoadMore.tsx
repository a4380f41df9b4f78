/** The button that fetches the next page (the service's cursor), with the reason the last try
 * failed; the same button then offers to try again. */
export function LoadMore({
  busy,
  error,
  onLoadMore,
  label = "Load more",
}: {
  busy: boolean;
  error: string;
  onLoadMore: () => void;
  label?: string;
}) {
  return (
    <div className="more">
      {error && (
        <p className="alert alert-error" role="alert">
          {error}
        </p>
      )}
      <button type="button" className="btn" onClick={onLoadMore} disabled={busy}>
        {busy ? "Loading…" : error ? "Try again" : label}
      </button>
    </div>
  );
}

import { useId } from "react";
import type { StatusFilter } from "../api/tasks";

const FILTERS: { value: StatusFilter; label: string }[] = [
  { value: "all", label: "All" },
  { value: "pending", label: "Pending" },
  { value: "completed", label: "Completed" },
];

/** Which tasks to show: a radio group of statuses and a search box (Escape clears it). */
export function TaskFilterBar(props: {
  filter: StatusFilter;
  onFilterChange: (filter: StatusFilter) => void;
  search: string;
  onSearchChange: (search: string) => void;
}) {
  const { filter, search } = props;
  const name = useId();
  return (
    <div className="toolbar">
      <fieldset className="segmented">
        <legend className="sr-only">Show</legend>
        {FILTERS.map((f) => (
          <label key={f.value} className={filter === f.value ? "selected" : undefined}>
            <input
              type="radio"
              name={name}
              value={f.value}
              checked={filter === f.value}
              onChange={() => props.onFilterChange(f.value)}
            />
            <span>{f.label}</span>
          </label>
        ))}
      </fieldset>
      <div className="search">
        <svg viewBox="0 0 20 20" aria-hidden="true" focusable="false">
          <path
            d="M8.5 3a5.5 5.5 0 014.38 8.82l3.65 3.65-1.06 1.06-3.65-3.65A5.5 5.5 0 118.5 3zm0 1.5a4 4 0 100 8 4 4 0 000-8z"
            fill="currentColor"
          />
        </svg>
        <input
          type="search"
          aria-label="Search tasks"
          placeholder="Search tasks"
          value={search}
          onChange={(e) => props.onSearchChange(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === "Escape" && search) {
              e.preventDefault();
              props.onSearchChange("");
            }
          }}
        />
      </div>
    </div>
  );
}

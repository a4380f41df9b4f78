import { useId, type InputHTMLAttributes, type ReactNode, type Ref, type TextareaHTMLAttributes } from "react";

/** A labelled input with an optional hint and an error that is announced (`role="alert"`) and
 * tied to the input with `aria-describedby` / `aria-invalid`. */
export function Field({
  inputRef,
  textareaRef,
  ...props
}: {
  label: string;
  hint?: string | undefined;
  /** Longer guidance, shown under the input. */
  help?: string | undefined;
  error?: string | undefined;
  /** A way out shown with the error (e.g. "Sign in instead"). */
  errorAction?: ReactNode;
  input?: InputHTMLAttributes<HTMLInputElement>;
  textarea?: TextareaHTMLAttributes<HTMLTextAreaElement>;
  inputRef?: Ref<HTMLInputElement>;
  textareaRef?: Ref<HTMLTextAreaElement>;
  after?: ReactNode;
  className?: string;
}) {
  const id = useId();
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  const helpId = `${id}-help`;
  const describedBy =
    [props.error ? errorId : null, props.hint ? hintId : null, props.help ? helpId : null].filter(Boolean).join(" ") ||
    undefined;
  const common = {
    id,
    "aria-invalid": props.error ? true : undefined,
    "aria-describedby": describedBy,
  } as const;
  return (
    <div className={`field ${props.className ?? ""}`}>
      <div className="field-label-row">
        <label htmlFor={id}>{props.label}</label>
        {props.hint && (
          <span id={hintId} className="field-hint">
            {props.hint}
          </span>
        )}
      </div>
      <div className={props.after ? "field-control has-after" : "field-control"}>
        {props.textarea ? (
          <textarea {...props.textarea} {...common} ref={textareaRef} />
        ) : (
          <input {...props.input} {...common} ref={inputRef} />
        )}
        {props.after}
      </div>
      {props.help && (
        <p id={helpId} className="field-help">
          {props.help}
        </p>
      )}
      {props.error && (
        <div id={errorId} className="field-error" role="alert">
          {props.error}
          {props.errorAction && <> {props.errorAction}</>}
        </div>
      )}
    </div>
  );
}

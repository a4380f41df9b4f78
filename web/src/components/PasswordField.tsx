import { useState, type Ref } from "react";
import { Field } from "./Field";

/** A password input with a Show/Hide toggle (named after the field, so two on a page can be told
 * apart). `autoComplete` tells password managers which password this is. */
export function PasswordField(props: {
  label: string;
  autoComplete: "current-password" | "new-password";
  value: string;
  onChange: (value: string) => void;
  error?: string | undefined;
  help?: string | undefined;
  inputRef?: Ref<HTMLInputElement>;
  autoFocus?: boolean;
}) {
  const [shown, setShown] = useState(false);
  return (
    <Field
      label={props.label}
      help={props.help}
      error={props.error}
      inputRef={props.inputRef}
      input={{
        type: shown ? "text" : "password",
        autoComplete: props.autoComplete,
        autoCapitalize: "none",
        spellCheck: false,
        required: true,
        autoFocus: props.autoFocus,
        value: props.value,
        onChange: (e) => props.onChange(e.target.value),
      }}
      after={
        <button
          type="button"
          className="reveal"
          aria-label={`Show ${props.label.toLowerCase()}`}
          aria-pressed={shown}
          onClick={() => setShown((v) => !v)}
        >
          {shown ? "Hide" : "Show"}
        </button>
      }
    />
  );
}

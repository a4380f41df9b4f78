/** Vitest set-up for every test file. The screens' tests wait for what a person would see with
 * Testing Library's find* and waitFor; their default second is short on a busy two-core machine
 * (a CI run builds the services meanwhile), so they wait up to five before calling it a failure.
 * A passing test takes no longer for it. */
import { configure } from "@testing-library/dom";

configure({ asyncUtilTimeout: 5_000 });

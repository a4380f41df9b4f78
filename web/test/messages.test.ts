import { describe, expect, it } from "vitest";
import { ApiError } from "../src/api/errors";
import { errorMessage } from "../src/messages";

const problem = (status: number, code: string, detail = "server words") =>
  new ApiError(status, { type: "about:blank", title: "t", status, detail, code });

describe("errorMessage", () => {
  it("tells an unverified owner at sign-in that a new link is on its way", () => {
    const message = errorMessage(problem(403, "email_not_verified"));
    expect(message).toMatch(/Confirm your email address/);
    expect(message).toMatch(/new one is on its way/);
  });

  it("falls back to the server's detail for a code it does not know", () => {
    expect(errorMessage(problem(409, "something_new", "Said by the server."))).toBe("Said by the server.");
  });
});

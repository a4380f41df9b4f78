import { describe, expect, it } from "vitest";
import { DEFAULT_CONFIG, loadConfig, parseConfig } from "../src/api/config";

describe("run-time configuration", () => {
  it("defaults to the services' default addresses", () => {
    expect(parseConfig(undefined)).toEqual(DEFAULT_CONFIG);
    expect(DEFAULT_CONFIG).toEqual({ authUrl: "http://localhost:8081", tasksUrl: "http://localhost:8082" });
  });

  it("takes URLs from the file, without a trailing slash, and ignores junk", () => {
    expect(parseConfig({ authUrl: "https://auth.example.com/", tasksUrl: "javascript:alert(1)" })).toEqual({
      authUrl: "https://auth.example.com",
      tasksUrl: DEFAULT_CONFIG.tasksUrl,
    });
  });

  it("falls back to the defaults when the file is missing or is not JSON", async () => {
    const missing = async () => new Response("nope", { status: 404 });
    const html = async () => new Response("<!doctype html><html></html>", { status: 200 });
    const offline = async () => {
      throw new TypeError("Failed to fetch");
    };
    expect(await loadConfig("/config.json", missing)).toEqual(DEFAULT_CONFIG);
    expect(await loadConfig("/config.json", html)).toEqual(DEFAULT_CONFIG);
    expect(await loadConfig("/config.json", offline)).toEqual(DEFAULT_CONFIG);
  });

  it("reads the file beside the app", async () => {
    let asked = "";
    const file = async (url: RequestInfo | URL) => {
      asked = String(url);
      return Response.json({ authUrl: "http://127.0.0.1:18081", tasksUrl: "http://127.0.0.1:18082" });
    };
    expect(await loadConfig("/config.json", file)).toEqual({
      authUrl: "http://127.0.0.1:18081",
      tasksUrl: "http://127.0.0.1:18082",
    });
    expect(asked).toBe("/config.json");
  });
});

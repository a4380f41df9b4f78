/**
 * The browser's WebAuthn ceremonies, in the JSON forms the auth-service speaks (WebAuthn Level 3:
 * binary fields as base64url). Where the browser has them, `PublicKeyCredential.parse*FromJSON`
 * and `credential.toJSON()` do the conversions; older browsers get the few fields that carry
 * bytes converted here. Behind an interface, so the screens can be tested without a browser's
 * authenticator.
 */

/** What `navigator.credentials` is used for, options and results as JSON. */
export interface WebAuthn {
  /** False where the browser has no WebAuthn (then the app offers no passkeys). */
  readonly supported: boolean;
  /** Makes a passkey: resolves to a RegistrationResponseJSON. */
  create(options: PublicKeyCredentialCreationOptionsJSON): Promise<unknown>;
  /** Signs a challenge with a passkey the person picks: resolves to an AuthenticationResponseJSON. */
  get(options: PublicKeyCredentialRequestOptionsJSON): Promise<unknown>;
}

/**
 * The person closed the browser's prompt, it timed out, or they chose not to use a passkey: the
 * browser says no more than `NotAllowedError` (on purpose, so a page cannot tell which), and an
 * aborted ceremony is `AbortError`. Nothing went wrong that needs an error message.
 */
export function ceremonyCancelled(error: unknown): boolean {
  const name = (error as { name?: unknown } | null)?.name;
  return name === "NotAllowedError" || name === "AbortError";
}

/** `create()` refused because this authenticator already holds a passkey for the account (it
 * was among `excludeCredentials`). */
export function alreadyRegistered(error: unknown): boolean {
  return (error as { name?: unknown } | null)?.name === "InvalidStateError";
}

// ---- base64url ---------------------------------------------------------------------------------

export function toBase64url(bytes: ArrayBuffer | ArrayBufferView): string {
  const view =
    bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let binary = "";
  for (const b of view) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function fromBase64url(text: string): Uint8Array<ArrayBuffer> {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

// ---- the conversions, for browsers without the Level 3 helpers -----------------------------------

const descriptor = (d: PublicKeyCredentialDescriptorJSON): PublicKeyCredentialDescriptor => ({
  ...d,
  type: d.type as PublicKeyCredentialType,
  transports: d.transports as AuthenticatorTransport[] | undefined,
  id: fromBase64url(d.id),
});

export function creationOptionsFromJSON(json: PublicKeyCredentialCreationOptionsJSON): PublicKeyCredentialCreationOptions {
  const { excludeCredentials, extensions, hints, ...rest } = json;
  void hints; // Level 3 only; an older browser would not know it.
  return {
    ...rest,
    attestation: json.attestation as AttestationConveyancePreference | undefined,
    challenge: fromBase64url(json.challenge),
    user: { ...json.user, id: fromBase64url(json.user.id) },
    ...(excludeCredentials ? { excludeCredentials: excludeCredentials.map(descriptor) } : {}),
    ...(extensions ? { extensions: extensions as AuthenticationExtensionsClientInputs } : {}),
  };
}

export function requestOptionsFromJSON(json: PublicKeyCredentialRequestOptionsJSON): PublicKeyCredentialRequestOptions {
  const { allowCredentials, extensions, hints, ...rest } = json;
  void hints;
  return {
    ...rest,
    userVerification: json.userVerification as UserVerificationRequirement | undefined,
    challenge: fromBase64url(json.challenge),
    ...(allowCredentials ? { allowCredentials: allowCredentials.map(descriptor) } : {}),
    ...(extensions ? { extensions: extensions as AuthenticationExtensionsClientInputs } : {}),
  };
}

/** What `credential.toJSON()` gives, for a browser that lacks it. */
export function credentialToJSON(credential: PublicKeyCredential): Record<string, unknown> {
  const response = credential.response;
  const json: Record<string, unknown> = {
    id: credential.id,
    rawId: toBase64url(credential.rawId),
    type: credential.type,
    authenticatorAttachment: credential.authenticatorAttachment ?? null,
    clientExtensionResults: credential.getClientExtensionResults?.() ?? {},
  };
  if ("attestationObject" in response) {
    const r = response as AuthenticatorAttestationResponse;
    const publicKey = r.getPublicKey?.();
    json.response = {
      clientDataJSON: toBase64url(r.clientDataJSON),
      attestationObject: toBase64url(r.attestationObject),
      transports: r.getTransports?.() ?? [],
      ...(r.getAuthenticatorData ? { authenticatorData: toBase64url(r.getAuthenticatorData()) } : {}),
      ...(publicKey ? { publicKey: toBase64url(publicKey) } : {}),
      ...(r.getPublicKeyAlgorithm ? { publicKeyAlgorithm: r.getPublicKeyAlgorithm() } : {}),
    };
  } else {
    const r = response as AuthenticatorAssertionResponse;
    json.response = {
      clientDataJSON: toBase64url(r.clientDataJSON),
      authenticatorData: toBase64url(r.authenticatorData),
      signature: toBase64url(r.signature),
      userHandle: r.userHandle ? toBase64url(r.userHandle) : null,
    };
  }
  return json;
}

// ---- the browser's -------------------------------------------------------------------------------

type PublicKeyCredentialStatics = Partial<
  Pick<typeof PublicKeyCredential, "parseCreationOptionsFromJSON" | "parseRequestOptionsFromJSON">
>;

/** WebAuthn through `navigator.credentials`, or `supported: false` where there is none. */
export function browserWebAuthn(win: Window & typeof globalThis = window): WebAuthn {
  const PKC = (win as { PublicKeyCredential?: PublicKeyCredentialStatics }).PublicKeyCredential;
  const credentials = win.navigator?.credentials;
  const supported = typeof PKC === "function" && !!credentials && typeof credentials.create === "function";
  const toJSON = (credential: Credential | null) => {
    if (!credential) throw new DOMException("No passkey was chosen.", "NotAllowedError");
    const pkc = credential as PublicKeyCredential;
    return typeof pkc.toJSON === "function" ? pkc.toJSON() : credentialToJSON(pkc);
  };
  return {
    supported,
    async create(options) {
      const publicKey = PKC?.parseCreationOptionsFromJSON
        ? PKC.parseCreationOptionsFromJSON(options)
        : creationOptionsFromJSON(options);
      return toJSON(await credentials.create({ publicKey }));
    },
    async get(options) {
      const publicKey = PKC?.parseRequestOptionsFromJSON
        ? PKC.parseRequestOptionsFromJSON(options)
        : requestOptionsFromJSON(options);
      return toJSON(await credentials.get({ publicKey }));
    },
  };
}

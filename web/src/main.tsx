import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import { AccountClient } from "./api/account";
import { loadConfig } from "./api/config";
import { EmailClient } from "./api/email";
import { MfaClient } from "./api/mfa";
import { PasskeysClient } from "./api/passkeys";
import { SessionManager } from "./api/session";
import { TasksClient } from "./api/tasks";
import { browserWebAuthn } from "./api/webauthn";
import "./styles.css";

const root = createRoot(document.getElementById("root")!);

loadConfig().then((config) => {
  const session = new SessionManager({ authUrl: config.authUrl });
  const tasks = new TasksClient(config.tasksUrl, session);
  const account = new AccountClient(config.authUrl, session);
  const email = new EmailClient(config.authUrl, session);
  const mfa = new MfaClient(config.authUrl, session);
  const passkeys = new PasskeysClient(config.authUrl, session, browserWebAuthn());
  root.render(
    <StrictMode>
      <App session={session} tasks={tasks} account={account} email={email} mfa={mfa} passkeys={passkeys} />
    </StrictMode>,
  );
});

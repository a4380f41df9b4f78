import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import { AccountClient } from "./api/account";
import { loadConfig } from "./api/config";
import { EmailClient } from "./api/email";
import { SessionManager } from "./api/session";
import { TasksClient } from "./api/tasks";
import "./styles.css";

const root = createRoot(document.getElementById("root")!);

loadConfig().then((config) => {
  const session = new SessionManager({ authUrl: config.authUrl });
  const tasks = new TasksClient(config.tasksUrl, session);
  const account = new AccountClient(config.authUrl, session);
  const email = new EmailClient(config.authUrl, session);
  root.render(
    <StrictMode>
      <App session={session} tasks={tasks} account={account} email={email} />
    </StrictMode>,
  );
});

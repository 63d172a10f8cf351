// The mend web app: the start page, the room of the invite in the URL fragment, or the
// counselor dashboard (#counselor).
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { isDashboard, tokenFromHash } from "./invite";
import { Dashboard } from "./screens/Dashboard";
import { Room } from "./screens/Room";
import { Start } from "./screens/Start";
import "./styles.css";

function App() {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const onHash = () => setHash(location.hash);
    addEventListener("hashchange", onHash);
    return () => removeEventListener("hashchange", onHash);
  }, []);
  const token = tokenFromHash(hash);
  if (token) return <Room token={token} key={token} />;
  return isDashboard(hash) ? <Dashboard /> : <Start />;
}

render(<App />, document.getElementById("app")!);

// The mend web app: the start page, or the room of the invite in the URL fragment.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { tokenFromHash } from "./invite";
import { Room } from "./screens/Room";
import { Start } from "./screens/Start";
import "./styles.css";

function App() {
  const [token, setToken] = useState(() => tokenFromHash(location.hash));
  useEffect(() => {
    const onHash = () => setToken(tokenFromHash(location.hash));
    addEventListener("hashchange", onHash);
    return () => removeEventListener("hashchange", onHash);
  }, []);
  return token ? <Room token={token} key={token} /> : <Start />;
}

render(<App />, document.getElementById("app")!);

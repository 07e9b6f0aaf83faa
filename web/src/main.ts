import "./styles.css";
import { createApi } from "./api";
import { App } from "./app";
import { ALL_VIEWS } from "./views";

const root = document.getElementById("app");
if (root) void new App(root, createApi(), ALL_VIEWS).start();

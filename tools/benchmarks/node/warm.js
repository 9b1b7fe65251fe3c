"use strict";
// make bench's warm side of a Node peer: one process, its handler loaded once, answering one JSON command a line on
// stdin with one JSON line on stdout. argv: handler file, methodArn.
//   {"time": [tokens]}    -> {"seconds": S}: the handler awaited on each token in turn (each must be allowed),
//                            timed inside this process (process.hrtime), so that the pipe is not measured
//   {"refuse": {name: token}} -> {"answers": {name: "Unauthorized" | "Allow" | "Deny" | "error: ..."}}
const readline = require("node:readline");
const [handlerFile, methodArn] = process.argv.slice(2);
const { handler } = require(handlerFile);

const event = (token) => ({ type: "TOKEN", authorizationToken: `Bearer ${token}`, methodArn });

async function time(tokens) {
  const started = process.hrtime.bigint();
  for (const token of tokens) {
    const answer = await handler(event(token));
    if (answer.policyDocument.Statement[0].Effect !== "Allow") throw new Error("a bench token was not allowed");
  }
  return { seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}

async function refuse(tokens) {
  const answers = {};
  for (const [name, token] of Object.entries(tokens)) {
    try {
      answers[name] = (await handler(event(token))).policyDocument.Statement[0].Effect;
    } catch (error) {
      answers[name] = error.message === "Unauthorized" ? "Unauthorized" : `error: ${error.message}`;
    }
  }
  return { answers };
}

async function main() {
  for await (const line of readline.createInterface({ input: process.stdin })) {
    const command = JSON.parse(line);
    const answer = "time" in command ? await time(command.time) : await refuse(command.refuse);
    process.stdout.write(`${JSON.stringify(answer)}\n`);
  }
}

main().catch((error) => {
  process.stdout.write(`${JSON.stringify({ error: error.message })}\n`);
  process.exitCode = 1;
});

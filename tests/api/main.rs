mod demo;
mod donate;
mod health;
mod helpers;
mod ledger;
mod reconcile;
mod state_machine;
mod webhook_security;

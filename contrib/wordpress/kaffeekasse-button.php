<?php
/**
 * Plugin Name: Kaffeekasse-Button
 * Description: [kaffeekasse] zeigt den Button deiner Kaffeekasse. [kaffeekasse coffees="3" lang="en"] für mehr Auswahl oder Englisch.
 * Version: 1.0
 * License: MIT
 *
 * Put this file into wp-content/plugins/ (or its body into a code-snippets plugin) and set
 * KAFFEEKASSE_URL below. The button is a plain form: no JavaScript, no cookies, nothing loaded
 * from a third party, so the blog needs no consent banner for it.
 */

if (!defined('ABSPATH')) {
    exit;
}

const KAFFEEKASSE_URL = 'https://kaffee.example.de';
// Keep these as your Kaffeekasse is configured (COFFEE_PRICE_CENTS, MAX_COFFEES): the labels
// must show the price Stripe will charge.
const KAFFEEKASSE_PRICE_CENTS = 500;
const KAFFEEKASSE_CURRENCY = '€';
const KAFFEEKASSE_MAX_COFFEES = 10;

function kaffeekasse_button($atts) {
    $a = shortcode_atts(array('coffees' => '3', 'lang' => 'de'), $atts, 'kaffeekasse');
    $max = max(1, min(KAFFEEKASSE_MAX_COFFEES, intval($a['coffees'])));
    $en = $a['lang'] === 'en';
    $price = KAFFEEKASSE_PRICE_CENTS / 100;
    $options = '';
    for ($n = 1; $n <= $max; $n++) {
        $label = $en
            ? sprintf('%d %s – %s %s', $n, $n === 1 ? 'coffee' : 'coffees', number_format($n * $price, 2, ',', '.'), KAFFEEKASSE_CURRENCY)
            : sprintf('%d %s – %s %s', $n, $n === 1 ? 'Kaffee' : 'Kaffees', number_format($n * $price, 2, ',', '.'), KAFFEEKASSE_CURRENCY);
        $options .= sprintf('<option value="%d">%s</option>', $n, esc_html($label));
    }
    return sprintf(
        '<form class="kaffeekasse" method="post" action="%s" target="_top">'
        . '<input type="hidden" name="lang" value="%s">'
        . '<label>%s <select name="coffees">%s</select></label> '
        . '<button type="submit">☕ %s</button></form>',
        esc_url(KAFFEEKASSE_URL . '/donate?lang=' . ($en ? 'en' : 'de')),
        $en ? 'en' : 'de',
        esc_html($en ? 'How many coffees' : 'Anzahl Kaffees'),
        $options,
        esc_html($en ? 'Buy me a coffee' : 'Spendiere mir einen Kaffee')
    );
}
add_shortcode('kaffeekasse', 'kaffeekasse_button');
